from .drawing import colour_for_id, draw_tracks, render_referred, write_video

__all__ = ['colour_for_id', 'draw_tracks', 'render_referred', 'write_video']
