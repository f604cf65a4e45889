"""Proofreading: the frames a person should check (:mod:`.suspects`), and handing them to SLEAP
(:mod:`.sleap`) for correction."""
