import Box from "@mui/material/Box";
import Card from "@mui/material/Card";
import CardContent from "@mui/material/CardContent";
import Stack from "@mui/material/Stack";
import Typography from "@mui/material/Typography";

/** A card with an icon, a title, a one-line explanation and the API it uses. */
export function SectionCard({ icon: Icon, title, subtitle, api, children, testId }) {
  return (
    <Card variant="outlined" sx={{ height: "100%" }} data-testid={testId}>
      <CardContent>
        <Stack direction="row" spacing={1.5} alignItems="center" sx={{ mb: 0.5 }}>
          <Icon color="primary" />
          <Typography variant="h6" component="h2">
            {title}
          </Typography>
        </Stack>
        <Typography variant="body2" color="text.secondary">
          {subtitle}
        </Typography>
        {api && (
          <Typography
            variant="caption"
            component="code"
            sx={{ display: "inline-block", mt: 0.5, fontFamily: "monospace", color: "text.secondary" }}
          >
            {api}
          </Typography>
        )}
        <Box sx={{ mt: 2 }}>{children}</Box>
      </CardContent>
    </Card>
  );
}
