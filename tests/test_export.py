"""The export as the command line runs it: graphs and manifest on a temp dir, and bad input refused with the file or key named."""
import json, subprocess

import pytest
import yaml

from autovoice_trt.core import AutovoiceError, sha256_file
from autovoice_trt.config import COMPONENTS, component_contracts, load_config
from autovoice_trt.graphs.export import check_graph
from autovoice_trt.graphs.folder import GraphFolder, export_components


def test_export_writes_graphs_and_manifest(tmp_path):
    manifest = export_components(None, tmp_path, components=["mel_projection", "pitch_encoder"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "mel_projection.onnx", "pitch_encoder.onnx"]
    assert GraphFolder(tmp_path).manifest == manifest
    contracts = component_contracts(load_config().model)
    for name, entry in manifest["graphs"].items():
        report = check_graph(tmp_path / entry["file"], contracts[name])
        assert report.inputs == list(contracts[name].inputs) and report.outputs == list(contracts[name].outputs)
        assert entry["sha256"] == sha256_file(tmp_path / entry["file"])
        assert entry["exporter"] == "torchscript" and entry["opset"] >= 17


def test_cli_export_all_five(tmp_path):
    run = subprocess.run(["autovoice-trt", "export", "--output-dir", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert list(manifest["graphs"]) == list(COMPONENTS)
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == sorted(f"{c}.onnx" for c in COMPONENTS)


def test_missing_output_folder(tmp_path):
    "The library refuses a folder that is not there; the CLI creates it (mkdir -p), and refuses a path that is a file."
    with pytest.raises(AutovoiceError, match="does not exist: create it first"):
        export_components(None, tmp_path / "not_there")
    assert list(tmp_path.iterdir()) == []
    run = subprocess.run(["autovoice-trt", "export", "--output-dir", str(tmp_path / "new" / "onnx"), "--components", "mel_projection"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "new" / "onnx" / "mel_projection.onnx").is_file()
    (tmp_path / "a_file").write_text("x")
    run = subprocess.run(["autovoice-trt", "export", "--output-dir", str(tmp_path / "a_file")], capture_output=True, text=True)
    assert run.returncode == 2 and "a_file" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_truncated_graph_is_refused_naming_the_file(tmp_path):
    manifest = export_components(None, tmp_path, components=["vocoder"])
    graph = tmp_path / manifest["graphs"]["vocoder"]["file"]
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    contract = component_contracts(load_config().model)["vocoder"]
    with pytest.raises(AutovoiceError, match="vocoder.onnx'"):
        check_graph(graph, contract)


def test_impossible_profile_in_a_user_config_is_refused(tmp_path):
    user = tmp_path / "user.yaml"
    user.write_text(yaml.safe_dump({"tensorrt": {"voice_conversion": {"flow_decoder": {
        "mask": {"min": [1, 2, 9], "opt": [1, 2, 431], "max": [4, 2, 2584]}}}}}))
    out = tmp_path / "onnx"
    out.mkdir()
    with pytest.raises(AutovoiceError, match=r"tensorrt.voice_conversion.flow_decoder.mask.min: axis 1 is fixed at 1"):
        export_components(user, out)
    assert list(out.iterdir()) == []
