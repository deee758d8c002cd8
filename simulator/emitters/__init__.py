"""Where the simulator puts what each source system emits, one module per source kind."""
