"""Reads runner's event files with TensorBoard's own code and asserts what they hold.

Usage: check_tensorboard.py RUNS_DIR EXPERIMENT RUN... [--failed RUN]

1. TensorBoard's EventAccumulator: scalars equal the metrics in each run's summary.json;
   histograms, images, text and the graph load.
2. The real `tensorboard` server on 127.0.0.1: the same through its HTTP data API, and
   /data/plugin/hparams/session_groups lists every run with its hyperparameters, status and
   final metrics.
3. An event file cut mid-record still loads up to the cut.
Exits non-zero with the first failed assertion.
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ALL = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def accumulate(path):
    ea = EventAccumulator(path, size_guidance=ALL)
    ea.Reload()
    return ea


def check_files(runs, experiment, run):
    folder = os.path.join(runs, experiment, run)
    summary = json.load(open(os.path.join(folder, "summary.json")))
    history = summary["history"]
    root, train, val = (accumulate(os.path.join(folder, sub)) for sub in ("", "train", "val"))
    for ea, tag, key in ((val, "accuracy", "val_accuracy"), (val, "loss", "val_loss"),
                         (train, "accuracy", "train_accuracy"), (train, "loss", "train_loss")):
        values = [e.value for e in ea.Scalars(tag)]
        expected = [m[key] for m in history]
        assert len(values) == len(expected), f"{run}: {tag} has {len(values)} points, summary {len(expected)}"
        assert all(close(a, b) for a, b in zip(values, expected)), f"{run}: {tag} {values} != {expected}"
    steps = [e.step for e in val.Scalars("accuracy")]
    assert steps == sorted(steps) and steps[0] > 0, f"{run}: steps {steps}"
    assert "batch_loss" in train.Tags()["scalars"] and "learning_rate" in train.Tags()["scalars"]
    histograms = train.Tags()["histograms"]
    for name in ("conv1/weight", "conv1/weight/gradient", "dense2/bias"):
        assert name in histograms, f"{run}: no histogram {name} in {histograms}"
    weight = train.Histograms("conv1/weight")[-1].histogram_value
    assert weight.num == 3 * 3 * 1 * 32, f"{run}: conv1/weight histogram counts {weight.num}"
    assert "examples" in val.Tags()["images"] and "conv1/filters" in root.Tags()["images"]
    image = val.Images("examples")[-1]
    assert image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", image.encoded_image_string[16:24])
    assert (width, height) == (image.width, image.height), f"{run}: PNG {width}x{height} vs {image.width}x{image.height}"
    config = root.Tensors("config")[-1].tensor_proto.string_val[0].decode()
    assert "batch_size:" in config and "```yaml" in config, config[:200]
    graph = root.Graph()
    names = [node.name for node in graph.node]
    assert names[:3] == ["input", "conv1", "conv2"] and "dense2" in names, names
    assert list(graph.node[2].input) == ["conv1"]
    print(f"OK files {run}: {len(history)} epochs of scalars equal summary.json; histograms, images, text, graph load")
    return summary


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, body=None):
    url = f"http://127.0.0.1:{port}{path}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def check_server(runs, experiment, summaries, failed):
    port = free_port()
    tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([tensorboard, "--logdir", runs, "--host", "127.0.0.1", "--port", str(port),
                               "--reload_interval", "1"], stdout=log, stderr=log, start_new_session=True)
    try:
        expected_runs = {f"{experiment}/{run}{sub}" for run in summaries if run not in failed for sub in ("", "/train", "/val")}
        expected_runs |= {f"{experiment}/{run}" for run in failed}
        deadline = time.time() + 90
        while True:
            try:
                listed = set(get(port, "/data/runs"))
                if expected_runs <= listed:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                log.seek(0)
                raise AssertionError(f"tensorboard did not list {expected_runs}: {log.read().decode()[-800:]}")
            time.sleep(0.5)
        scalar_tags = get(port, "/data/plugin/scalars/tags")
        histogram_tags = get(port, "/data/plugin/histograms/tags")
        image_tags = get(port, "/data/plugin/images/tags")
        text_tags = get(port, "/data/plugin/text/tags")
        graphs = get(port, "/data/plugin/graphs/info")
        for run, summary in summaries.items():
            if run in failed:
                continue
            name = f"{experiment}/{run}"
            query = urllib.parse.urlencode({"run": f"{name}/val", "tag": "accuracy"})
            points = get(port, f"/data/plugin/scalars/scalars?{query}")
            values = [p[2] for p in points]
            expected = [m["val_accuracy"] for m in summary["history"]]
            assert len(values) == len(expected) and all(close(a, b) for a, b in zip(values, expected)), f"{name}: served {values} != {expected}"
            assert "loss" in scalar_tags[f"{name}/train"], scalar_tags.keys()
            assert "conv1/weight" in histogram_tags[f"{name}/train"]
            assert "examples" in image_tags[f"{name}/val"] and "conv1/filters" in image_tags[name]
            assert "config" in text_tags[name]
            assert graphs[name]["run_graph"] is True
        groups = get(port, "/data/plugin/hparams/session_groups", {
            "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
            "colParams": [], "startIndex": 0, "sliceSize": 100})
        by_name = {group["name"]: group for group in groups["sessionGroups"]}
        assert set(by_name) == {f"{experiment}/{run}" for run in summaries}, set(by_name)
        for run, summary in summaries.items():
            group = by_name[f"{experiment}/{run}"]
            for key, value in (summary.get("varied") or {}).items():
                assert close(group["hparams"][key], float(value)), f"{run}: hparam {key} = {group['hparams'].get(key)}, wanted {value}"
            assert group["hparams"]["data.dataset"] == "digits"
            status = group["sessions"][0]["status"]
            wanted = "STATUS_FAILURE" if run in failed else "STATUS_SUCCESS"
            assert status == wanted, f"{run}: status {status}, wanted {wanted}"
            metrics = {(m["name"]["group"], m["name"]["tag"]): m["value"] for m in group["metricValues"]}
            if run not in failed:
                assert close(metrics[("val", "accuracy")], summary["final"]["val_accuracy"]), f"{run}: {metrics}"
        print(f"OK server: {len(summaries)} runs in scalars, histograms, images, text, graphs; HPARAMS lists each with hparams, status, final metrics")
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def check_truncated(runs, experiment, run):
    source = os.path.join(runs, experiment, run, "train")
    name = sorted(f for f in os.listdir(source) if "tfevents" in f)[0]
    whole = accumulate(source).Scalars("batch_loss")
    with tempfile.TemporaryDirectory() as scratch:
        data = open(os.path.join(source, name), "rb").read()
        # Cut inside the first histogram record: the batch scalars before it survive, later ones not.
        first_histogram = data.find(b"conv1/weight")
        open(os.path.join(scratch, name), "wb").write(data[:first_histogram])
        cut = accumulate(scratch).Scalars("batch_loss")
    assert 0 < len(cut) < len(whole), (len(cut), len(whole))
    assert [e.value for e in cut] == [e.value for e in whole[: len(cut)]]
    print(f"OK truncated: a file cut mid-record loads {len(cut)} of {len(whole)} batch_loss points, identical up to the cut")


def main():
    args = sys.argv[1:]
    failed = set()
    if "--failed" in args:
        index = args.index("--failed")
        failed.add(args[index + 1])
        del args[index : index + 2]
    runs, experiment, names = args[0], args[1], args[2:]
    summaries = {}
    for run in names:
        if run in failed:
            summaries[run] = json.load(open(os.path.join(runs, experiment, run, "summary.json")))
        else:
            summaries[run] = check_files(runs, experiment, run)
    check_server(runs, experiment, summaries, failed)
    check_truncated(runs, experiment, names[0])


if __name__ == "__main__":
    main()
