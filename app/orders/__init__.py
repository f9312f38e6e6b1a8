"""Orders: checkout, stock, delivery, inspection, disputes and payouts."""
