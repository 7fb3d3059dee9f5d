"""The API's request and response shapes, one module per resource, with the public
Customer Credit API's names."""
