"""reprlab.text"""
