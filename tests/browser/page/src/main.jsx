// The browser test page: a React 18 + MUI 5 app on Docker's theme provider, using the real
// @docker/extension-api-client. It renders visible content (so the tests can prove the theme
// works) and exposes window.testApi for the tests' page.evaluate calls. With "#gallery" in the
// URL it shows the component gallery (Gallery.jsx) instead of the app.
import { createDockerDesktopClient } from "@docker/extension-api-client";
import { DockerMuiV5ThemeProvider } from "@docker/docker-mui-theme";
import CssBaseline from "@mui/material/CssBaseline";
import { createRoot } from "react-dom/client";
import { useSyncExternalStore } from "react";
import { App } from "./App.jsx";
import { Gallery } from "./Gallery.jsx";
import { createTestApi } from "./testApi.js";

const ddClient = createDockerDesktopClient();
window.testApi = createTestApi(ddClient);

const onHashChange = (notify) => {
  window.addEventListener("hashchange", notify);
  return () => window.removeEventListener("hashchange", notify);
};

function Page() {
  const hash = useSyncExternalStore(onHashChange, () => window.location.hash);
  return hash === "#gallery" ? <Gallery /> : <App ddClient={ddClient} />;
}

createRoot(document.getElementById("root")).render(
  <DockerMuiV5ThemeProvider>
    <CssBaseline />
    <Page />
  </DockerMuiV5ThemeProvider>,
);
window.testPageReady = true;
