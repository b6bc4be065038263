"""reprlab.embed"""
