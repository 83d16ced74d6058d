"""DRAM side: configs (Ramulator2-compatible YAML), backends, traces, checker, validation."""
