"""The event-type registry: which event types exist, who registered them, how often they occur."""
