"""Image reading, labelled sets, splits and augmentation."""
