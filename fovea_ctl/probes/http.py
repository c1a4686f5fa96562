"""`http` probes: GET on 127.0.0.1, ready on a 2xx, presenting the probe's credential (basic or bearer) from
its secret; inside the container, the same GET over bash's /dev/tcp (HTTP_GET_2XX)."""

from __future__ import annotations

from fovea_ctl.docker.socket_client import authorization, http_get
from fovea_ctl.probes.check import Check, ProbeFailed, ProbeKind, host_port, read_secret_file
from fovea_ctl.probes.exec_command import ExecCheck

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from typing import Any

    from fovea_ctl.model import HttpProbe, Service, Stack
    from fovea_ctl.probes.check import Target

# GET over bash's /dev/tcp, exit 0 on a 2xx status: every fovea-built image is Debian (bash is essential
# there), while python3 or curl are not in all of them. $0: the port, $1: the path; with a credential, $2:
# its scheme (basic | bearer), $3: the user, $4: the secret's file inside the container, read by bash
# builtins and handed to coreutils' base64 on a pipe, so the value is in no process's argv.
HTTP_GET_2XX = ["bash", "-c", """auth=
if [ -n "$2" ]; then
  IFS= read -r secret < "$4" || [ -n "$secret" ] || exit 1
  if [ "$2" = basic ]; then auth="Authorization: Basic $(printf '%s:%s' "$3" "$secret" | base64 -w0)"
  else auth="Authorization: Bearer $secret"; fi
  auth="$auth"$'\\r\\n'
fi
exec 3<>"/dev/tcp/127.0.0.1/$0" && printf 'GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n%s\\r\\n' "$1" "$auth" >&3 \\
  && read -r _ code _ <&3 && [[ $code == 2?? ]]"""]


class HttpCheck(Check):
    kind = "http"
    FIELDS = ("port", "path", "auth")

    def __init__(self, port: int, path: str, auth: dict[str, str] | None = None) -> None:
        self.port = port
        self.path = path
        self.auth = auth  # {"scheme", "user", "secret"}: the credential, read from the secret's file on the host

    def authorization(self, target: Target) -> str | None:
        if not self.auth:
            return None
        try:
            secret = read_secret_file(target.secrets_dir or "", self.auth["secret"])
        except OSError as exc:
            raise ProbeFailed(f"http: secret {self.auth['secret']} unreadable: {exc.__class__.__name__}") from None
        return authorization(self.auth["scheme"], self.auth["user"], secret)

    def run(self, target: Target, quick: bool = False) -> None:
        http_get(self.port, self.path, target.timeout_s, self.authorization(target))


class HttpKind(ProbeKind):
    name = "http"

    def check(self, probe: HttpProbe, service: Service, stack: Stack) -> Check:
        auth = probe.auth
        port = host_port(service, stack, probe.port)
        if port is None:
            credential = [auth.scheme, auth.user, f"/run/secrets/{auth.secret}"] if auth else ["", "", ""]
            return ExecCheck([*HTTP_GET_2XX, str(probe.port), probe.path, *credential])
        return HttpCheck(port, probe.path,
                         {"scheme": auth.scheme, "user": auth.user, "secret": auth.secret} if auth else None)

    def k8s_action(self, probe: HttpProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import HTTPGetAction

        return {"httpGet": HTTPGetAction(path=probe.path, port=probe.port)}
