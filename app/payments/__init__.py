"""Money: the double-entry ledger and the payment providers that post to it."""
