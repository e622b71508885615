"""Seeds the tests draw bodies with, none of them used for fitting anything."""

HELDOUT_SEED = 777001  # the seed assets/build_body_assets.py keeps for judging
TEST_SEED = 424242  # another seed never used for fitting
