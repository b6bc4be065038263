"""reprlab.tokenizers"""
