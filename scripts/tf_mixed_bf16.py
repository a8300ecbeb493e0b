"""Runs ../shared/bench's TensorFlow seed model under Keras mixed precision (bfloat16 compute,
float32 variables): the like-for-like peer of `runner bench --precision bf16`.
Usage: python tf_mixed_bf16.py PEERS_DIR [tf_seed_model.py's arguments]"""
import os
import runpy
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

keras.mixed_precision.set_global_policy("mixed_bfloat16")
peers = sys.argv[1]
sys.argv = [os.path.join(peers, "tf_seed_model.py")] + sys.argv[2:]
sys.path.insert(0, peers)
runpy.run_path(sys.argv[0], run_name="__main__")
