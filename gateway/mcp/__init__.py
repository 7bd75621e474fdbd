"""The MCP server: the services' operations as tools, through the same pipeline as REST.

``GatewayMcp`` (server.py) is the public name: build one per app, add its route,
enter its ``run()`` in the lifespan. See docs/patterns/mcp.md.
"""

from gateway.mcp.server import MCP_PATH, GatewayMcp

__all__ = ["MCP_PATH", "GatewayMcp"]
