"""Static sites (a Vite SPA and friends): built with Node, served by nginx as uid 101 on
port 8080, the way nginxinc/nginx-unprivileged does it, on the official nginx image.

The nginx configuration is written by the Dockerfile itself (a BuildKit heredoc), so the
image needs nothing from outside its build context and the config is reviewed with it.
"""

from __future__ import annotations

from deploysmith.render.dockerfiles import node
from deploysmith.render.dockerfiles.base import DevSetup, ImageContext, Writer

HTML_ROOT = "/usr/share/nginx/html"


def nginx_conf(port: int) -> str:
    return f"""\
# Written by the Dockerfile (deploysmith): the built site, unprivileged.
# Runs as uid 101 on port {port}; pid and temp files live in /tmp, the only writable path
# besides /var/cache/nginx, so the root filesystem can be read-only.
worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;

events {{
    worker_connections 1024;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    server_tokens off;
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    gzip on;
    gzip_types text/css application/javascript application/json image/svg+xml;

    server {{
        listen {port};
        root {HTML_ROOT};

        # Fingerprinted build assets never change under the same name.
        location /assets/ {{
            add_header Cache-Control "public, max-age=31536000, immutable";
            try_files $uri =404;
        }}

        # Client-side routes fall back to index.html, which is always revalidated.
        location / {{
            add_header Cache-Control "no-cache";
            try_files $uri $uri/ /index.html;
        }}
    }}
}}
"""


def build(ctx: ImageContext, out: Writer) -> None:
    component = ctx.component
    image = ctx.image
    port = ctx.port or 8080
    output = (component.build_output or "dist").strip("/")
    built = image.build_base is not None and component.build_command is not None
    if built:
        manager = node.manager_for(ctx)
        out.stage(
            "${BUILD_IMAGE}", "deps",
            f"deps: the dependencies the site's build needs ({manager.name}), from the lock "
            "file; reused until a manifest changes.",
        )
        out.line("WORKDIR /app")
        node.install(ctx, out, manager, prod=False)
        out.stage("deps", "build", f"build: the site, into {output}/.")
        out.line("COPY . .")
        assert component.build_command is not None
        out.run(component.build_command)
    out.stage(
        "${RUNTIME_IMAGE}", "runtime",
        "runtime: nginx serving the files, no Node; configuration and files owned by root, "
        f"read-only to nginx (uid {image.uid}).",
    )
    out.heredoc("/etc/nginx/nginx.conf", nginx_conf(port))
    if built:
        out.line(f"COPY --from=build /app/{output}/ {HTML_ROOT}/")
    else:
        out.line(f"COPY . {HTML_ROOT}/")
    out.line(f"USER {image.uid}:{image.uid}")
    out.line(f"EXPOSE {port}")
    out.comment(
        "For docker and compose (busybox wget is in the alpine image); Kubernetes ignores "
        "HEALTHCHECK and uses the probes in the manifests."
    )
    out.healthcheck(("wget", "-q", "--spider", f"http://127.0.0.1:{port}/"), start_period="5s")
    out.comment(
        "nginx is PID 1 and started directly: the image's entrypoint scripts rewrite the config at "
        "start, which a read-only root filesystem forbids. SIGQUIT is nginx's graceful shutdown."
    )
    out.line("STOPSIGNAL SIGQUIT")
    out.exec_form("ENTRYPOINT", ["nginx", "-g", "daemon off;"])


def ignore(ctx: ImageContext) -> tuple[str, ...]:
    if ctx.component.build_command is None:
        return (
            "# Static files are served as they are: only sources of the site belong here",
            "**/node_modules/",
        )
    return node.ignore(ctx)


def dev(ctx: ImageContext) -> DevSetup:
    component = ctx.component
    if component.framework == "vite" and component.build_command:
        return DevSetup(
            target="build",
            reason="the build stage running Vite's dev server, which reloads the page on change; "
            "compose watch syncs edits into /app",
            command=("node_modules/.bin/vite", "--host", "0.0.0.0", "--port", "5173", "--strictPort"),
            port=5173,
            sync=True,
        )
    return DevSetup(
        target="runtime",
        reason="the production image (nginx), rebuilt by compose watch when a file changes",
    )
