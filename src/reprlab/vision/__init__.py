"""reprlab.vision"""
