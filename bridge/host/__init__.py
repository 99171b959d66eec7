"""The extensions host: several installed extensions served by one daemon (issue 14)."""
