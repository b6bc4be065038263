"""reprlab.pretrain"""
