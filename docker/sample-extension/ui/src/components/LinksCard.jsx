import Button from "@mui/material/Button";
import Stack from "@mui/material/Stack";
import { ddClient } from "../client.js";
import { OpenInNewIcon } from "./icons.jsx";
import { SectionCard } from "./SectionCard.jsx";

const LINKS = [
  { label: "Extensions SDK docs", url: "https://docs.docker.com/extensions/", testId: "open-docs" },
  { label: "Extension API reference", url: "https://docs.docker.com/reference/api/extensions-sdk/" },
];

/** Links open in the user's browser, never inside the extension: ddClient.host.openExternal. */
export function LinksCard() {
  return (
    <SectionCard
      icon={OpenInNewIcon}
      title="Documentation"
      subtitle="Opens in a new browser tab."
      api="ddClient.host.openExternal(url)"
      testId="links-card"
    >
      <Stack direction="row" spacing={1} flexWrap="wrap" useFlexGap>
        {LINKS.map(({ label, url, testId }) => (
          <Button
            key={url}
            variant="text"
            endIcon={<OpenInNewIcon />}
            data-testid={testId}
            onClick={() => ddClient.host.openExternal(url)}
          >
            {label}
          </Button>
        ))}
      </Stack>
    </SectionCard>
  );
}
