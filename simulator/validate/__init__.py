"""Independent checks of a product file's ground truth (``startrail check``): validate/reference.py recomputes it
with astropy, sgp4 and scipy from the file alone, validate/check.py compares."""
