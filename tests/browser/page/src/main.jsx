// The browser test page: a React 18 + MUI 5 app on Docker's theme provider, using the real
// @docker/extension-api-client. It renders visible content (so the tests can prove the theme
// works) and exposes window.testApi for the tests' page.evaluate calls.
import { createDockerDesktopClient } from "@docker/extension-api-client";
import { DockerMuiV5ThemeProvider } from "@docker/docker-mui-theme";
import CssBaseline from "@mui/material/CssBaseline";
import { createRoot } from "react-dom/client";
import { App } from "./App.jsx";
import { createTestApi } from "./testApi.js";

const ddClient = createDockerDesktopClient();
window.testApi = createTestApi(ddClient);

createRoot(document.getElementById("root")).render(
  <DockerMuiV5ThemeProvider>
    <CssBaseline />
    <App ddClient={ddClient} />
  </DockerMuiV5ThemeProvider>,
);
window.testPageReady = true;
