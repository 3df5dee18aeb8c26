"""Helpers shared by controllers and views: links, timestamps, lookups."""

from __future__ import annotations

import datetime
import urllib.parse

from oslo_config import cfg

from nova_volmig.api import wsgi

CONF = cfg.CONF

API_PREFIX = 'v2.1'


def isotime(value: datetime.datetime | None) -> str | None:
    """Server timestamps: ``2012-08-20T21:11:09Z``."""
    if value is None:
        return None
    return value.strftime('%Y-%m-%dT%H:%M:%SZ')


def isotime_micro(value: datetime.datetime | None) -> str | None:
    """Action and migration timestamps: ``2018-04-25T01:26:29.585618``."""
    if value is None:
        return None
    return value.strftime('%Y-%m-%dT%H:%M:%S.%f')


def root_url(req) -> str:
    """The URL the API is reached at, without the version segment."""
    if CONF.api.public_endpoint:
        return CONF.api.public_endpoint.rstrip('/')
    script = req.script_name
    suffix = '/' + API_PREFIX
    if script.endswith(suffix):
        script = script[:-len(suffix)]
    return (req.host_url + script).rstrip('/')


def _path(req, *parts: str) -> str:
    project_id = req.environ.get(wsgi.URL_PROJECT_ID_KEY)
    segments = ([project_id] if project_id else []) + list(parts)
    return '/'.join(urllib.parse.quote(s, safe='') for s in segments)


def links(req, collection: str, resource_id: str) -> list[dict]:
    """Nova's ``self`` and ``bookmark`` links of one resource."""
    path = _path(req, collection, resource_id)
    return [
        {'rel': 'self',
         'href': '%s/%s/%s' % (root_url(req), API_PREFIX, path)},
        {'rel': 'bookmark', 'href': '%s/%s' % (root_url(req), path)},
    ]


def bookmark_link(req, collection: str, resource_id: str) -> list[dict]:
    return [{'rel': 'bookmark',
             'href': '%s/%s' % (root_url(req),
                                _path(req, collection, resource_id))}]


def self_url(req, collection: str, resource_id: str) -> str:
    return '%s/%s/%s' % (root_url(req), API_PREFIX,
                         _path(req, collection, resource_id))
