"""Writers: the 村级重大事务决策监督记录表 PDF and the ledger workbook."""
