"""Volume manager, arrays (backends), copy engines and NBD exports."""
