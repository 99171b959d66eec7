// The ddbridge sample extension's UI: a Docker Desktop extension written the usual way
// (React + MUI on Docker's theme, @docker/extension-api-client), which ddbridge runs in a
// plain browser.
import { DockerMuiV5ThemeProvider } from "@docker/docker-mui-theme";
import CssBaseline from "@mui/material/CssBaseline";
import { createRoot } from "react-dom/client";
import { App } from "./App.jsx";

createRoot(document.getElementById("root")).render(
  <DockerMuiV5ThemeProvider>
    <CssBaseline />
    <App />
  </DockerMuiV5ThemeProvider>,
);
