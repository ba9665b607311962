"""Fee rates (手续费率): templates of commission and margin rates, the exchanges' base rates the
floating ones follow, and the write-back of approved rates to the trading counter (CTP)."""
