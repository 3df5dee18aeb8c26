"""/flavors: the sizes a server may be created with (read-only)."""

from nova_volmig.api.openstack.compute.views import flavors as views
from nova_volmig.api import wsgi


class FlavorsController(wsgi.Controller):
    """Any authenticated user may read flavors, as upstream."""

    def __init__(self, flavor_api):
        super().__init__()
        self.flavor_api = flavor_api

    def index(self, req):
        return {'flavors': [views.basic(req, flavor)
                            for flavor in self.flavor_api.get_all()]}

    def detail(self, req):
        return {'flavors': [views.detail(req, flavor)
                            for flavor in self.flavor_api.get_all()]}

    def show(self, req, id):
        return {'flavor': views.detail(req, self.flavor_api.get(id))}
