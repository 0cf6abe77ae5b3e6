"""Syscall wrappers: the only package that imports ctypes."""
