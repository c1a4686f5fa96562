#!/bin/bash
# Model-service memory (bench/results/model_service_memory.json "on_demand"): at ready, after the background
# preload, after every default model ran once. Usage: bench/model_service_memory.sh fovea/model-service:TAG
set -eu
IMG=$1; N=fovea-membench-$$
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REDIS=$(docker images fovea/redis --format '{{.Repository}}:{{.Tag}}' | head -1)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p $WORK/videos; chmod 777 $WORK/videos
docker run --rm --entrypoint sh -v $WORK/videos:/out $IMG -c 'a=$(python3 -c "import os, ultralytics; print(os.path.join(os.path.dirname(ultralytics.__file__), \"assets\"))"); ffmpeg -loglevel error -y -framerate 10 -loop 1 -i $a/bus.jpg -vf scale=640:480,format=yuv420p -frames:v 30 -c:v libx264 /out/bus.mp4'
docker network create $N-net >/dev/null
docker run -d --name $N-redis --network $N-net --network-alias redis $REDIS redis-server --bind 0.0.0.0 --protected-mode no >/dev/null
docker run -d --name $N-ms --network $N-net -e MODEL_WORKER=1 -v $WORK/videos:/data/videos:ro \
  -v $ROOT/configs/models.yaml:/etc/fovea/models.yaml:ro $IMG >/dev/null
mem() { echo "$1: $(docker stats --no-stream --format '{{.MemUsage}}' $N-ms)"; }
sleep 3; mem "3 s after start, nothing loaded"
for i in $(seq 120); do docker logs $N-ms 2>&1 | grep -q "preloaded" && break; sleep 1; done; sleep 2; mem "after preload (detector, tracker, embedder)"
docker exec $N-ms python3 -c '
from redis import Redis; from rq import Queue; from rq.serializers import JSONSerializer; import time
q = lambda n: Queue(n, connection=Redis(host="redis"), serializer=JSONSerializer)
types = [{"id": "person", "name": "Person", "detectorClasses": ["person"]}, {"id": "vehicle", "name": "Vehicle", "detectorClasses": ["bus"]}]
jobs = [q("object-detection").enqueue("model_service.tasks.detect_types", "bus", "bus.mp4", {"types": types, "sample_every": 3}),
        q("speech-transcription").enqueue("model_service.tasks.transcribe", "bus", "bus.mp4", {}),
        q("object-detection").enqueue("model_service.tasks.read_text", "bus", "bus.mp4", {}),
        q("video-summarization").enqueue("model_service.tasks.summarize", "bus", "bus.mp4", {"sample_every": 5})]
for j in jobs:
    while j.get_status(refresh=True) not in ("finished", "failed"): time.sleep(0.2)
    print(j.func_name, j.get_status(), (j.get_meta().get("detail") or {}).get("stage"))
'
sleep 2; mem "after detect_types (SSD + YOLO persons), transcribe (no audio), read_text (OCR), summarize"
docker exec $N-ms python3 -c 'import urllib.request as u; print(u.urlopen("http://127.0.0.1:8000/health").read().decode())'
docker rm -f $N-ms $N-redis >/dev/null; docker network rm $N-net >/dev/null
