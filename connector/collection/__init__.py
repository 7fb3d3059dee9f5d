"""The collection half of the credit cycle: due dates kept, reminders, charges, getting paid."""
