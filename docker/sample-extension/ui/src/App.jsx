import Box from "@mui/material/Box";
import Grid from "@mui/material/Grid";
import Stack from "@mui/material/Stack";
import Typography from "@mui/material/Typography";
import { BackendCard } from "./components/BackendCard.jsx";
import { HostBinaryCard } from "./components/HostBinaryCard.jsx";
import { HostInfoCard } from "./components/HostInfoCard.jsx";
import { LinksCard } from "./components/LinksCard.jsx";
import { ToastsCard } from "./components/ToastsCard.jsx";
import icon from "../../docker.svg";

export function App() {
  return (
    <Box sx={{ px: 4, py: 3, maxWidth: 1200, mx: "auto" }}>
      <Stack direction="row" spacing={2} alignItems="center" sx={{ mb: 1 }}>
        {/* metadata.json's icon, bundled: the header shows the same picture as the tab. */}
        <Box component="img" src={icon} alt="" data-testid="app-icon" sx={{ width: 48, height: 48 }} />
        <Box>
          <Typography variant="h3" component="h1" data-testid="app-title">
            Sample extension
          </Typography>
        </Box>
      </Stack>
      <Typography variant="body1" color="text.secondary" sx={{ mb: 3, maxWidth: 760 }}>
        A Docker Desktop extension built with React, MUI and <code>@docker/extension-api-client</code>,
        running in a plain browser through ddbridge. Each card below calls one part of the extension API.
      </Typography>
      <Grid container spacing={2}>
        <Grid item xs={12} md={6}>
          <HostInfoCard />
        </Grid>
        <Grid item xs={12} md={6}>
          <BackendCard />
        </Grid>
        <Grid item xs={12}>
          <HostBinaryCard />
        </Grid>
        <Grid item xs={12} md={6}>
          <ToastsCard />
        </Grid>
        <Grid item xs={12} md={6}>
          <LinksCard />
        </Grid>
      </Grid>
    </Box>
  );
}
