from .drawing import (colour_for_id, contact_sheet, draw_tracks, evenly_spaced, render_referred,
                      write_snapshot, write_video)

__all__ = ['colour_for_id', 'contact_sheet', 'draw_tracks', 'evenly_spaced', 'render_referred',
           'write_snapshot', 'write_video']
