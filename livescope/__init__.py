"""livescope: real-time research assistant for internal hemorrhoid grading in colonoscopy.

Research use only. Not a medical device.
"""

__version__ = "0.1.0"

RESEARCH_NOTICE = "Research use only - not a medical device."
