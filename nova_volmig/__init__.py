"""nova-volmig: Nova's volume-migration start / cancel / complete API."""
