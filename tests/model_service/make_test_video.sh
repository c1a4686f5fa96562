# Runs inside the model-service image (sh -c): its ffmpeg turns a photo that ultralytics ships into a 3 s,
# 10 fps clip that zooms in while panning left to right, so the people in it move and change size.
set -eu
assets=$(python3 -c 'import os, ultralytics; print(os.path.join(os.path.dirname(ultralytics.__file__), "assets"))')
ffmpeg -loglevel error -y -i "$assets/bus.jpg" \
  -vf "zoompan=z=1+0.01*on:x=(iw-iw/zoom)*on/29:y=(ih-ih/zoom)/2:d=30:s=480x640:fps=10,format=yuv420p" \
  -frames:v 30 -c:v libx264 -preset veryfast /out/bus_pan.mp4
