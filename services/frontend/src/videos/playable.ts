/**
 * Whether this browser can show a video: the backend's verdict on the file (`problem`: no readable stream, no
 * frame rate...), the browser's own answer for the codec (`canPlayType` — "" means it cannot), and what happened
 * when the workspace last tried (a decode error is remembered per browser, a good load clears it).
 */
import type { Video } from "../api";

// A representative `codecs` string per ffprobe codec name, for the browser's own canPlayType.
const MIME: Record<string, string> = {
  h264: 'video/mp4; codecs="avc1.42E01E"',
  hevc: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  vp8: 'video/webm; codecs="vp8"',
  vp9: 'video/webm; codecs="vp9"',
  av1: 'video/mp4; codecs="av01.0.05M.08"',
  mpeg4: 'video/mp4; codecs="mp4v.20.8"',
  theora: 'video/ogg; codecs="theora"',
};

const failedKey = (id: string) => `fovea.undecodable.${id}`;

let probe: HTMLVideoElement | null = null;

/** Why this browser cannot show the video, or null when it can (or cannot tell before trying). */
export function playProblem(video: Pick<Video, "id" | "codec" | "problem">): string | null {
  if (video.problem) return `cannot be annotated: ${video.problem}`;
  const failed = localStorage.getItem(failedKey(video.id));
  if (failed) return `this browser could not decode it: ${failed}`;
  const mime = video.codec ? MIME[video.codec] : undefined;
  if (mime) {
    probe ??= document.createElement("video");
    if (probe.canPlayType(mime) === "") return `this browser cannot play ${video.codec} video`;
  }
  return null;
}

export function rememberDecode(videoId: string, failure: string | null): void {
  try {
    if (failure) localStorage.setItem(failedKey(videoId), failure);
    else localStorage.removeItem(failedKey(videoId));
  } catch {
    /* storage disabled: the workspace still says so when it happens */
  }
}

/** What a <video> element's error means, in words. */
export function mediaErrorText(error: MediaError | null, codec: string | null | undefined): string {
  const what = codec ? `${codec} video` : "this video";
  if (!error) return `${what} has no picture this browser can show`;
  if (error.code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED) return `this browser does not support ${what}`;
  if (error.code === MediaError.MEDIA_ERR_DECODE) return `${what} could not be decoded${error.message ? ` (${error.message})` : ""}`;
  if (error.code === MediaError.MEDIA_ERR_NETWORK) return "the video could not be loaded (network)";
  return error.message || "the video could not be played";
}
