import Box from "@mui/material/Box";
import Grid from "@mui/material/Grid";
import Typography from "@mui/material/Typography";
import { ddClient } from "../client.js";
import { ComputerIcon } from "./icons.jsx";
import { SectionCard } from "./SectionCard.jsx";

function Fact({ label, value, testId }) {
  return (
    <Box>
      <Typography variant="caption" color="text.secondary" sx={{ textTransform: "uppercase", letterSpacing: 0.5 }}>
        {label}
      </Typography>
      <Typography variant="h6" component="p" data-testid={testId} sx={{ fontWeight: 500, wordBreak: "break-all" }}>
        {value || "—"}
      </Typography>
    </Box>
  );
}

/** The machine Docker Desktop (here: ddbridge) runs on: ddClient.host. */
export function HostInfoCard() {
  const { platform, arch, hostname } = ddClient.host;
  const image = ddClient.extension.image;
  return (
    <SectionCard
      icon={ComputerIcon}
      title="Host"
      subtitle="Where the extension runs, as Docker Desktop reports it."
      api="ddClient.host.platform / arch / hostname, ddClient.extension.image"
      testId="host-card"
    >
      <Grid container spacing={2}>
        <Grid item xs={4}>
          <Fact label="Platform" value={platform} testId="host-platform" />
        </Grid>
        <Grid item xs={4}>
          <Fact label="Architecture" value={arch} testId="host-arch" />
        </Grid>
        <Grid item xs={4}>
          <Fact label="Hostname" value={hostname} testId="host-hostname" />
        </Grid>
        <Grid item xs={12}>
          <Fact
            label="Extension image"
            value={image || "none (served from a folder)"}
            testId="extension-image"
          />
        </Grid>
      </Grid>
    </SectionCard>
  );
}
