"""Pure rules of village supervision: the 四议两公开 procedure and the three-assets ledger checks."""
