"""The server: HTTP + WebSocket APIs and the web page over the conversation runtime."""
