"""Phantom: synthetic endoscopy frames, labelled datasets and procedure videos with ground truth."""
