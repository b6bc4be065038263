"""reprlab.transfer"""
