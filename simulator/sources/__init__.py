"""The source families, one module each: what every source system emits per day."""
