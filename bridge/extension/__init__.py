"""The extension being served: its UI today; metadata, image and backend come later."""
