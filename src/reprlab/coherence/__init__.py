"""reprlab.coherence"""
