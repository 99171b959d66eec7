import { DockerMuiV5ThemeProvider } from "@docker/docker-mui-theme";
import CssBaseline from "@mui/material/CssBaseline";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";

// Docker's theme gives the UI Docker Desktop's look, light or dark as the host is.
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <DockerMuiV5ThemeProvider>
      <CssBaseline />
      <App />
    </DockerMuiV5ThemeProvider>
  </StrictMode>,
);
