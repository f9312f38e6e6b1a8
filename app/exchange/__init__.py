"""The tea exchange: instruments, warehouse receipts, trading modes, settlement and market data."""
