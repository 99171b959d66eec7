// The globals bridge/static/ddclient.js reads and writes, typed as the code that consumes them
// expects: @docker/extension-api-client's `window.ddClient` and @docker/docker-mui-theme's
// `__ddMuiV5Themes` / `__ddMuiV6Themes` (declared by that package's own types, imported here).
// The shim's JSDoc return type of createClient (`BridgeClient`) is the member-by-member check.
import type { DockerDesktopClient } from "@docker/extension-api-client-types/dist/v1Hybrid";
import type {} from "@docker/docker-mui-theme";

declare global {
  interface Window {
    /** Prepended by the daemon when it serves /ddclient.js (docs/protocol.md, "Bootstrap"). */
    __ddbridge?: unknown;
    ddClient: DockerDesktopClient & { readonly extension: { readonly id: string } };
  }
}

// What an extension written against the types does compiles against the shim's object.
const client: DockerDesktopClient = window.ddClient;
export const examples = async (): Promise<void> => {
  const result = await client.docker.cli.exec("ps", ["--format", "{{json .}}"]);
  result.parseJsonLines();
  const process = client.extension.vm?.cli.exec("tail", ["-f", "/log"], {
    stream: { onOutput: (data) => data.stdout ?? data.stderr, splitOutputLines: true },
  });
  process?.close();
  await client.extension.vm?.service?.get("/hello");
  client.desktopUI.toast.success("done");
  window.__ddMuiV5Themes.dark;
};
